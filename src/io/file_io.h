#pragma once
// Reading whole files safely: only regular files, of a bounded size, so that
// a path naming a FIFO (which would block for a writer), a device such as
// /dev/zero (which never ends) or a directory is an error at once, never a
// hang or an unbounded read. Errors are predictor::Error naming the path.

#include <cstddef>
#include <string>

namespace predictor {

// An open, blocking, read-only descriptor of the regular file at `path`, of
// at most `max_bytes` (its size in *size). The caller closes it.
int open_regular_file(const std::string& path, std::size_t max_bytes, std::size_t* size);

// Throws unless `path` is a regular file that can be opened, for readers
// that open it themselves afterwards (a stream).
void check_regular_file(const std::string& path);

// The whole file as bytes (a regular file of at most `max_bytes`).
std::string read_file(const std::string& path, std::size_t max_bytes);

}  // namespace predictor
