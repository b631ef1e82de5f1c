#pragma once
// Errors a user can act on. The message names the file, line or field at fault.
#include <stdexcept>
#include <string>

namespace rbench {

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rbench
