/*
 * quantity.h - Kubernetes resource quantities ("500m", "1", "512Mi",
 * "1Gi", "1G", "2.5", "1e3") as CreateSandbox's limits take them.
 *
 * The syntax is Kubernetes' (k8s.io/apimachinery resource.Quantity): an
 * optional '+', a decimal number (digits with at most one '.', at least one
 * digit), then at most one suffix: binary Ki Mi Gi Ti Pi Ei, decimal
 * n u m "" k M G T P E, or an exponent e<int>/E<int> (the int may be
 * signed). Anything else (negative, empty, spaces, "1.2.3", "5MB", "0x10",
 * more than 64 characters) is NOX_EINVAL with a message naming the field
 * and the value: "<field>: invalid quantity '<value>' (use Kubernetes
 * syntax such as ...)", "<field>: quantity '<value>' must be greater than
 * zero" or "<field>: quantity '<value>' is too large (max ...)".
 *
 * The arithmetic is exact (decimal digits, no floating point). On failure
 * the output is not written. Thread safety: reentrant, no shared state.
 */
#ifndef NOX_QUANTITY_H
#define NOX_QUANTITY_H

#include "nox_common.h"

#include <stdint.h>

/* A CPU quantity in millicores: "1" -> 1000, "500m" -> 500, "0.25" -> 250,
 * "2k" -> 2000000. Fractions of a millicore round up (Kubernetes does the
 * same); zero is NOX_EINVAL (no CPU at all is not a limit), as is a value
 * above 1,000,000 cores. field names the request field in messages. */
nox_err_t nox__quantity_cpu_millis(const char *field, const char *s,
                                   uint64_t *millis, nox_status_t *st);

/* A byte quantity: "512Mi" -> 536870912, "1G" -> 1000000000, "1.5Gi",
 * "100" -> 100, "1e3" -> 1000. Fractional bytes round up; zero is
 * NOX_EINVAL; values that overflow uint64 are NOX_EINVAL. */
nox_err_t nox__quantity_bytes(const char *field, const char *s, uint64_t *bytes,
                              nox_status_t *st);

#endif /* NOX_QUANTITY_H */
