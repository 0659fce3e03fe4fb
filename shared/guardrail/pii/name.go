package pii

func (s *scanner) name(i int) {}
