#include "CBuildInfo.h"

// scripts/package writes BuildCommit.h (gitignored) with `#define DNS01_BUILD_COMMIT "..."` before
// it builds and removes it afterwards, so only this file is recompiled when the commit changes and
// a plain `swift build` never reports a commit it was not built from.
#if __has_include("BuildCommit.h")
#include "BuildCommit.h"
#endif

#ifndef DNS01_BUILD_COMMIT
#define DNS01_BUILD_COMMIT ""
#endif

const char *dns01_build_commit(void) {
    return DNS01_BUILD_COMMIT;
}
