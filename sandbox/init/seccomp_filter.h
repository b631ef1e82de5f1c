#pragma once
// The seccomp filter every sandboxed process runs under. Default allow, with a deny list of what a
// judged program never needs and what widens the kernel surface it can reach (see docs/sandbox.md).

namespace rbench::sandbox::init {

// Loads the filter into the calling process (inherited by its children and kept across execve).
// Needs PR_SET_NO_NEW_PRIVS or CAP_SYS_ADMIN; throws std::runtime_error when libseccomp fails.
void install_seccomp_filter();

}  // namespace rbench::sandbox::init
