package attack

import (
	"math"
)

// dense accumulates hashed feature counts without sorting: counts is indexed by bucket and
// touched lists the buckets in use, so extraction is linear in the text length.
type dense struct {
	counts  []float32
	touched []uint32
}

func (d *dense) add(i uint32) {
	if d.counts == nil {
		d.counts = make([]float32, Dim)
	}
	if d.counts[i] == 0 {
		d.touched = append(d.touched, i)
	}
	d.counts[i]++
}

// finish writes the L2-normalised sub-linear TF vector into out and clears the counts.
func (d *dense) finish(out []Feature) []Feature {
	out = out[:0]
	var ss float64
	for _, i := range d.touched {
		v := float32(1 + math.Log(float64(d.counts[i])))
		d.counts[i] = 0
		out = append(out, Feature{Index: i, Value: v})
		ss += float64(v * v)
	}
	d.touched = d.touched[:0]
	if ss > 0 {
		inv := float32(1 / math.Sqrt(ss))
		for k := range out {
			out[k].Value *= inv
		}
	}
	return out
}
