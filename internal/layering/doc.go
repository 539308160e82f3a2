// Package layering holds no code, only a test that enforces the package
// dependency direction of DESIGN.md: ioengine <- blockstore <- tiering <- node
// <- cmd. A lower package that imports a higher one fails the test.
package layering
