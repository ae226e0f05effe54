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

/* nox_test_escaping_links on the workspace of every noxrunner_sandbox_*
 * directory under base_dir (not following a link to one), summed. The
 * workspace is where uploads write and all a command at namespaces can
 * reach, so a link from it to another sandbox, to its own metadata file
 * or to its tmp/ escapes, though it stays under base_dir. first (when not
 * NULL and the sum is not 0) receives the first such link as
 * "<sandbox dir name>/workspace/<link> -> <where it leads>". Returns
 * (size_t)-1 when base_dir cannot be read or a workspace resolved. */
size_t nox_test_escaping_links_in_each_sandbox(const char *base_dir,
                                               char *first, size_t first_len);

#endif /* NOX_SANDBOX_SCAN_H */
