// The version of graphmirror these headers belong to, for programs that embed it
// (`#if GRAPHMIRROR_VERSION_MAJOR >= 1`) and for `graphmirror --version`.
//
// Kept in step with `project(graphmirror VERSION ...)` in CMakeLists.txt: the configure
// step fails if the two differ, and the unit test `version` compares them again.
//
// Thread-safety: constants.

#ifndef GRAPHMIRROR_VERSION_H_
#define GRAPHMIRROR_VERSION_H_

#define GRAPHMIRROR_VERSION_MAJOR 0
#define GRAPHMIRROR_VERSION_MINOR 1
#define GRAPHMIRROR_VERSION_PATCH 0
#define GRAPHMIRROR_VERSION "0.1.0"

#endif  // GRAPHMIRROR_VERSION_H_
