/*
 * sandbox_scan.h - does anything in a sandbox lead out of it? Test helper
 * for every suite that uploads (and for the fuzz harnesses).
 *
 * Thread safety: no global state; concurrent calls are independent.
 */
#ifndef NOX_SANDBOX_SCAN_H
#define NOX_SANDBOX_SCAN_H

#include <stddef.h>

/* Walk the tree at sandbox_dir without following any symlink and count the
 * symlinks in it whose target, resolved as the host kernel would from the
 * link's real location (through any further links, a missing component
 * taken as a plain name), ends outside sandbox_dir. An absolute target
 * counts as outside unless it leads back in. When first is not NULL and
 * the count is not 0, first (first_len bytes) receives the path of the
 * first such link below sandbox_dir, then " -> " and where it leads.
 * Directories the walk cannot open are skipped, so a test sees only what
 * the host can see. Returns the count; (size_t)-1 when sandbox_dir itself
 * cannot be resolved. */
size_t nox_test_escaping_links(const char *sandbox_dir, char *first,
                               size_t first_len);

#endif /* NOX_SANDBOX_SCAN_H */
