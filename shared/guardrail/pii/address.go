package pii

func (s *scanner) address(i int)     {}
func (s *scanner) addressWord(i int) {}
