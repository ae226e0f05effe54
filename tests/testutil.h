/*
 * testutil.h - helpers shared by the Check suites: temporary directories
 * (every test works only under a fresh mkdtemp directory) and small file
 * helpers.
 */
#ifndef NOX_TESTUTIL_H
#define NOX_TESTUTIL_H

#include <stddef.h>

/* Create a fresh 0700 directory under $TMPDIR (else /tmp) named
 * nox-test-XXXXXX and return its malloc'd path; aborts the test on
 * failure. */
char *tu_mkdtemp(void);

/* Remove path recursively without following symlinks, then free(path).
 * NULL is a no-op. */
void tu_rmtree_free(char *path);

/* Write len bytes to dir/name (created 0644, truncated); aborts the test
 * on failure. */
void tu_write_file(const char *dir, const char *name, const void *data,
                   size_t len);

/* Read dir/name into a malloc'd NUL-terminated buffer (*len_out, may be
 * NULL, gets the size); NULL when it cannot be read. */
char *tu_read_file(const char *dir, const char *name, size_t *len_out);

/* 1 when dir/name exists (lstat), else 0. */
int tu_exists(const char *dir, const char *name);

/* Fail the test if a link in any sandbox's workspace under base_dir leads
 * out of that workspace (into another sandbox, its metadata or tmp/
 * included): the check after every upload test (sandbox_scan.h). */
void tu_assert_no_link_out_of_a_workspace(const char *base_dir);

/* A self-signed certificate for 127.0.0.1 (its own CA, one day, EC
 * P-256) at cert_path and its key at key_path, made with openssl (its
 * output is dropped). Its subjectAltName names 127.0.0.1 as an IP address
 * (for libcurl and OpenSSL) and as a DNS name (mbed TLS 2.28, NNG's TLS,
 * matches DNS names only), and localhost. Aborts the test on failure. */
void tu_make_cert(const char *cert_path, const char *key_path);

#endif /* NOX_TESTUTIL_H */
