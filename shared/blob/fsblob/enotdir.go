package fsblob

import "syscall"

// syscallENOTDIR is returned when a path component of a key is an object, not a directory.
var syscallENOTDIR error = syscall.ENOTDIR
