/*
 * version.h — masterd's release, the one place it is written: masterd
 * --version, masterctl --version, `status` and the start-up line say it.
 * A release changes it here (no build step reads git, so a tarball builds
 * the same).
 */
#ifndef COMMON_VERSION_H
#define COMMON_VERSION_H

#define MASTERD_VERSION "0.1.0"

#endif
