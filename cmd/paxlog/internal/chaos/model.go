package chaos

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Inputs and outputs of the porcupine model.
type (
	appendIn  struct{ Value string }
	appendOut struct{ Index uint64 }
	readIn    struct{ Index uint64 }
	readOut   struct {
		Found bool
		Value string
	}
	checkTailIn  struct{}
	checkTailOut struct{ Tail uint64 }
)

// logModel is the sequential specification of the log (see doc.go).
//
// The abstract state is the log itself: a map from index to value. Every
// append of the checked history carries a unique value and has a known
// index (acknowledged, or found in the final log for an append whose
// outcome was unknown), so the history fixes valueAt, the value each
// index would hold once its append has taken effect. In any legal
// sequential order appends take effect in increasing index order, so the
// state reduces to one integer, last (the highest index appended so far):
// the log is exactly {i: valueAt[i] for i <= last with i in valueAt}.
//
//	append(v) -> i        legal iff i > last;            then last = i
//	read(i) -> v          legal iff i <= last and valueAt[i] == v
//	read(i) -> not found  legal iff i > last or nothing of the history is at i
//	checktail() -> t      legal iff t == last
//
// start is the state at the beginning of the window (the tail of the fence
// that precedes it).
func logModel(start uint64, valueAt map[uint64]string) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return start },
		Step: func(state, input, output any) (bool, any) {
			last := state.(uint64)
			switch in := input.(type) {
			case appendIn:
				i := output.(appendOut).Index
				return i > last, i
			case readIn:
				out := output.(readOut)
				if out.Found {
					return in.Index <= last && valueAt[in.Index] == out.Value, last
				}
				_, held := valueAt[in.Index]
				return in.Index > last || !held, last
			case checkTailIn:
				return output.(checkTailOut).Tail == last, last
			}
			return false, last
		},
		Equal: func(a, b any) bool { return a.(uint64) == b.(uint64) },
		Hash:  func(s any) uint64 { return s.(uint64) },
		DescribeOperation: func(input, output any) string {
			switch in := input.(type) {
			case appendIn:
				return fmt.Sprintf("append(%s) -> %d", in.Value, output.(appendOut).Index)
			case readIn:
				out := output.(readOut)
				if !out.Found {
					return fmt.Sprintf("read(%d) -> not found", in.Index)
				}
				return fmt.Sprintf("read(%d) -> %s", in.Index, out.Value)
			case checkTailIn:
				return fmt.Sprintf("checktail() -> %d", output.(checkTailOut).Tail)
			}
			return "?"
		},
		DescribeState: func(s any) string { return fmt.Sprintf("last=%d", s.(uint64)) },
	}
}
