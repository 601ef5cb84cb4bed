package memory

import (
	"testing"

	"boxoffice"
	"boxoffice/internal/queuetest"
)

func TestQueueConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T) boxoffice.Queue { return NewQueue() })
}
