#ifndef CBUILDINFO_H
#define CBUILDINFO_H

/// The git commit dns01 was built from, as `scripts/package` wrote it into `BuildCommit.h` just
/// before building ("" when built without it: `swift build` from a clone or a tarball).
const char *dns01_build_commit(void);

#endif
