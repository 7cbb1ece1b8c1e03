// The one translation unit of a test directory's precompiled-header target (eddy_test_pch in
// tests/CMakeLists.txt). It has no code: the target exists to build the PCH that every test
// executable of the directory reuses.
