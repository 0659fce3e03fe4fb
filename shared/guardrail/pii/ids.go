package pii

// alnumID handles an upper-case word start that may be a passport number (one letter and
// eight digits) or a driver's licence ID (letters and digits), each only with a context word.
func (s *scanner) alnumID(i int) {
	t := s.text
	j := i
	digits := 0
	for j < len(t) && (isUpper(t[j]) || isDigit(t[j])) {
		if isDigit(t[j]) {
			digits++
		}
		j++
	}
	if j < len(t) && (isLower(t[j]) || t[j] == '_' || t[j] >= 0x80) {
		return
	}
	n := j - i
	if s.set.Has(USPassport) && n == 9 && digits == 8 && s.context(i, j, 48, 0, passportWords) {
		s.add(USPassport, i, j, 0.7)
		return
	}
	if s.set.Has(DriverID) && n >= 6 && n <= 16 && digits >= 4 && s.context(i, j, 48, 0, driverWords) {
		s.add(DriverID, i, j, 0.6)
	}
}
