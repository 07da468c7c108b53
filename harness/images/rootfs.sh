# Shared by the image scripts (sourced, not run): building a FROM-scratch root file system out of
# this host's own files. `$root` must be set by the caller.

# Copies a file to the same path under $root, following symlinks.
copy() {
  mkdir -p "$root$(dirname "$1")" && cp -L "$1" "$root$1"
}

# The shared libraries the given programs load, one path a line. ldd prints "lib => /path (addr)"
# for most, "/path (addr)" for the loader, and — when given several files — a "/path/to/file:"
# header before each file's list, which is a program, not a library, and is left out.
libs_of() {
  ldd "$@" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3} !/=>/ && $1 ~ /^\// && $1 !~ /:$/ {print $1}'
}
