//! Table tests (ported from upstream's validation_test.go).
