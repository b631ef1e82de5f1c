// Linked into every executable of a RBENCH_SANITIZE build. CLN (GiNaC's number library) allocates once at
// start-up and never frees it by design; LeakSanitizer would report that in every test and fail them.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcln.so\n"; }
