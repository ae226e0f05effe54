/*
 * nox/error.h - NoxRunner error codes.
 *
 * Every nox_ function returns a nox_err_t: NOX_OK (0) on success, otherwise
 * one of the codes below. The numeric values are the gRPC canonical status
 * codes, so a code read off the wire (RpcResponse.code) is a nox_err_t as it
 * stands and vice versa; nox_err_from_wire() only guards the range.
 *
 * Thread safety: every function here may be called from any thread; the
 * strings returned are static and constant.
 */
#ifndef NOX_ERROR_H
#define NOX_ERROR_H

#include <stdint.h>

#if defined(NOX_BUILDING_LIBRARY)
#define NOX_API __attribute__((visibility("default")))
#else
#define NOX_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* X(enum suffix, gRPC code, gRPC name, description) */
#define NOX_ERRORS(X)                                                          \
    X(OK, 0, "OK", "success")                                                  \
    X(ECANCELED, 1, "CANCELLED", "operation cancelled")                        \
    X(EUNKNOWN, 2, "UNKNOWN", "unknown error")                                 \
    X(EINVAL, 3, "INVALID_ARGUMENT", "invalid argument")                       \
    X(ETIMEDOUT, 4, "DEADLINE_EXCEEDED", "deadline exceeded")                  \
    X(ENOENT, 5, "NOT_FOUND", "not found")                                     \
    X(EEXIST, 6, "ALREADY_EXISTS", "already exists")                           \
    X(EDENIED, 7, "PERMISSION_DENIED", "denied by policy")                     \
    X(ERESOURCE, 8, "RESOURCE_EXHAUSTED", "resource exhausted")                \
    X(EPRECOND, 9, "FAILED_PRECONDITION", "failed precondition")               \
    X(EABORTED, 10, "ABORTED", "aborted")                                      \
    X(ERANGE, 11, "OUT_OF_RANGE", "out of range")                              \
    X(ENOTSUP, 12, "UNIMPLEMENTED", "not implemented")                         \
    X(EINTERNAL, 13, "INTERNAL", "internal error")                             \
    X(EUNAVAIL, 14, "UNAVAILABLE", "service unavailable")                      \
    X(EDATALOSS, 15, "DATA_LOSS", "data loss")                                 \
    X(EAUTH, 16, "UNAUTHENTICATED", "unauthenticated")

typedef enum {
#define NOX_ERR_ENUM_(name, code, grpc, text) NOX_##name = code,
    NOX_ERRORS(NOX_ERR_ENUM_)
#undef NOX_ERR_ENUM_
} nox_err_t;

/* A short description of e, e.g. "not found". Unknown codes give
 * "unknown error code". Never NULL. */
NOX_API const char *nox_strerror(nox_err_t e);

/* The gRPC canonical name of e, e.g. "NOT_FOUND"; "UNKNOWN" when out of
 * range. Never NULL. */
NOX_API const char *nox_err_name(nox_err_t e);

/* The gRPC status code for e (the same number). */
NOX_API int32_t nox_err_to_wire(nox_err_t e);

/* The nox_err_t for a gRPC status code read off the wire; codes outside
 * 0..16 become NOX_EUNKNOWN. */
NOX_API nox_err_t nox_err_from_wire(int32_t code);

#ifdef __cplusplus
}
#endif

#endif /* NOX_ERROR_H */
