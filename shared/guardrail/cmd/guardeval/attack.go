package main

func attackReport(dir string) error { return nil }
