//go:build !race

package ioengine

const raceEnabled = false
