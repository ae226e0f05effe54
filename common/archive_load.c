/* archive_load.c - dlopen libarchive once and fill nox__archive_api (see
 * nox_archive.h for why it is not linked). */
#define NOX_ARCHIVE_LOADER /* the plain names, not the routes */
#include "nox_archive.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#ifndef NOX_LIBARCHIVE_SONAME
#error "NOX_LIBARCHIVE_SONAME must name libarchive's soname (CMake sets it)"
#endif

nox_archive_api_t nox__archive_api;

static pthread_once_t archive_once = PTHREAD_ONCE_INIT;
static bool           archive_ready;
static char           archive_why[NOX_MSG_MAX];

static void
archive_load_once(void)
{
    nox_archive_api_t api;
    const char       *err;
    /* Never unloaded: the table points into it for the rest of the
     * process. RTLD_NOW finds a missing symbol here, not mid-upload. */
    void *h = dlopen(NOX_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (h == NULL) {
        err = dlerror();
        (void)snprintf(archive_why, sizeof(archive_why), "cannot load %s: %s",
                       NOX_LIBARCHIVE_SONAME,
                       err != NULL ? err : "unknown error");
        return;
    }
#define NOX_ARCHIVE_SYM(f)                                                     \
    api.f = (__typeof__(api.f))dlsym(h, #f);                                   \
    if (api.f == NULL) {                                                       \
        (void)snprintf(archive_why, sizeof(archive_why),                       \
                       "cannot load %s: it has no %s", NOX_LIBARCHIVE_SONAME,  \
                       #f);                                                    \
        (void)dlclose(h); /* unusable: do not keep it mapped */                \
        return;                                                                \
    }
    NOX_ARCHIVE_FUNCS(NOX_ARCHIVE_SYM)
#undef NOX_ARCHIVE_SYM
    nox__archive_api = api;
    archive_ready = true;
}

nox_err_t
nox__archive_load(nox_status_t *st)
{
    /* Fails only with invalid arguments, which these are not. */
    (void)pthread_once(&archive_once, archive_load_once);
    if (archive_ready)
        return NOX_OK;
    return nox__status_set(st, NOX_EINTERNAL, "%s", archive_why);
}
