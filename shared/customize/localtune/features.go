package localtune

// Feature templates. A feature is a template with up to three values, hashed into the
// weight vector; only the weights of features that fire on a candidate add to its score.
const (
	tStartBias uint64 = iota + 1
	tOv4
	tOv12
	tSentOv
	tInQ
	tQSpan
	tWhShape
	tWhPrev
	tWhShapes
	tSentFirst
	tStop
	tNear
	tWhNextShape
	tRestart
	tWhWord
	tCont
	tContShape
	tContInQ
	tContLen
	tContWord
	tContShapes
	tContSentence
	tEOS
	tEOSLen
	tEOSNext
	tEOSNextShape
	tEOSNextInQ
	tEOSShapes
	tEOSLastShape
	tGen
	tGenWord
	tGenBigram
	tGenWh
	tGenInPrompt
	tContGlued
	tEOSGlued
	tContNext
	tOvWeighted
	tEOSNextNext
	tAdjQ
	tGenQWord
	tEOSPrev
)

// weightBits sizes the hashed weight vector (2^20 weights).
const weightBits = 20

const weightMask = 1<<weightBits - 1

func mix(h, v uint64) uint64 {
	h ^= v + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
	h *= 0xff51afd7ed558ccd
	return h ^ h>>33
}

func f1(t uint64) uint32          { return uint32(mix(t, 0x51) & weightMask) }
func f2(t, a uint64) uint32       { return uint32(mix(mix(t, 0x52), a) & weightMask) }
func f3(t, a, b uint64) uint32    { return uint32(mix(mix(mix(t, 0x53), a), b) & weightMask) }
func f4(t, a, b, c uint64) uint32 { return uint32(mix(mix(mix(mix(t, 0x54), a), b), c) & weightMask) }

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// lenBin buckets an output length.
func lenBin(n int) uint64 {
	switch {
	case n <= 3:
		return uint64(n)
	case n <= 5:
		return 4
	case n <= 9:
		return 5
	default:
		return 6
	}
}

// candidate kinds.
const (
	kindCopy uint8 = iota + 1
	kindGen
	kindEOS
)

// maxFeatures bounds the features of one candidate.
const maxFeatures = 20

// candidate is one possible next token: copy prompt token pos, generate vocabulary
// word, or end the answer.
type candidate struct {
	kind  uint8
	pos   int32
	word  int32
	nf    uint8
	feats [maxFeatures]uint32
	score float64
	p     float64
}

func (c *candidate) add(f uint32) {
	c.feats[c.nf] = f
	c.nf++
}

// state is what the decoder has produced so far.
type state struct {
	step     int
	prevHash uint64 // hash of the previous output token (bosHash at the start)
	prevWord int32  // vocabulary ID of the previous output token, or unknownWord
	lastCopy int    // prompt position copied last, or -1
	lastGen  bool
	lastTok  shape
}

var bosHash = hashString("<s>")

const unknownWord = -1

func startState() state {
	return state{prevHash: bosHash, prevWord: unknownWord, lastCopy: -1}
}

// copyFeatures fills c with the features of copying prompt token i.
func copyFeatures(c *candidate, a *analysed, st *state, i int) {
	wh := uint64(a.wh)
	t := &a.toks[i]
	if st.lastCopy >= 0 && i == st.lastCopy+1 {
		c.add(f1(tCont))
		c.add(f2(tContShape, uint64(t.shape)))
		c.add(f2(tContInQ, b2u(a.isQ[i])))
		c.add(f3(tContLen, lenBin(st.step), wh))
		c.add(f2(tContWord, t.hash))
		c.add(f3(tContShapes, uint64(a.shapeAt(i-1)), uint64(t.shape)))
		c.add(f2(tContSentence, b2u(a.sentOf[i] != a.sentOf[i-1])))
		c.add(f3(tContGlued, b2u(a.glued(i)), uint64(t.shape)))
		c.add(f4(tContNext, uint64(a.shapeAt(i-1)), t.hash, uint64(a.shapeAt(i+1))))
		return
	}
	inCtx := i < a.qFrom
	first := b2u(st.step == 0)
	c.add(f2(tStartBias, first))
	c.add(f2(tQSpan, b2u(!inCtx)))
	c.add(f2(tInQ, b2u(a.isQ[i])))
	c.add(f3(tWhShape, wh, uint64(t.shape)))
	c.add(f3(tWhPrev, wh, a.hashAt(i-1)))
	c.add(f4(tWhShapes, wh, uint64(t.shape), uint64(a.shapeAt(i+1))))
	c.add(f3(tWhNextShape, a.whNext, uint64(t.shape)))
	c.add(f3(tWhWord, wh, t.hash))
	c.add(f2(tSentFirst, b2u(a.sentFirst[i])))
	c.add(f2(tStop, b2u(stopWords[t.norm])))
	if inCtx {
		c.add(f3(tOv4, uint64(a.win4[i]), first))
		c.add(f2(tOv12, uint64(a.win12[i])))
		c.add(f2(tSentOv, uint64(a.sentOv[a.sentOf[i]])))
		c.add(f3(tNear, uint64(a.near[i]), wh))
		c.add(f2(tOvWeighted, uint64(a.winW[i])))
		c.add(f3(tAdjQ, b2u(i > 0 && a.isQ[i-1]), b2u(i+1 < a.qFrom && a.isQ[i+1])))
	}
	if st.step > 0 {
		c.add(f1(tRestart))
	}
}

// eosFeatures fills c with the features of ending the answer now.
func eosFeatures(c *candidate, a *analysed, st *state) {
	wh := uint64(a.wh)
	c.add(f1(tEOS))
	c.add(f3(tEOSLen, lenBin(st.step), wh))
	c.add(f2(tEOSLastShape, uint64(st.lastTok)))
	c.add(f2(tEOSPrev, st.prevHash))
	if st.lastCopy >= 0 {
		j := st.lastCopy + 1
		next := a.hashAt(j)
		if j >= a.qFrom {
			next = 1 // the question, or the end of the prompt, follows
		}
		c.add(f2(tEOSNext, next))
		c.add(f2(tEOSNextShape, uint64(a.shapeAt(j))))
		c.add(f2(tEOSNextInQ, b2u(j < len(a.isQ) && a.isQ[j])))
		c.add(f3(tEOSShapes, uint64(a.shapeAt(j-1)), uint64(a.shapeAt(j))))
		c.add(f3(tEOSGlued, b2u(j < len(a.toks) && a.glued(j)), uint64(a.shapeAt(j-1))))
		c.add(f4(tEOSNextNext, uint64(a.shapeAt(j-1)), next, uint64(a.shapeAt(j+1))))
	} else {
		c.add(f2(tEOSNext, 2))
	}
}

// genFeatures fills c with the features of generating vocabulary word w.
func genFeatures(c *candidate, a *analysed, st *state, w uint64) {
	c.add(f2(tGen, b2u(len(a.toks) > 0)))
	c.add(f2(tGenWord, w))
	c.add(f3(tGenBigram, st.prevHash, w))
	if st.step == 0 {
		c.add(f3(tGenWh, uint64(a.wh), w))
		for _, q := range a.qHashes {
			c.add(f3(tGenQWord, q, w))
		}
	}
	_, inPrompt := a.norms[w]
	c.add(f2(tGenInPrompt, b2u(inPrompt)))
}
