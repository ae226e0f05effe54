/* json_message.c - protobuf-c messages to JSON objects and back, driven
 * by the message descriptors (the mapping is in json_message.h). */
#include "json_message.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longest field name in the .proto, with room to spare. */
#define JM_NAME_MAX 64

/* ---- names ---- */

/* ttl_seconds -> ttlSeconds. */
static void
jm_camel(const char *name, char out[JM_NAME_MAX])
{
    size_t o = 0;
    bool   up = false;

    for (const char *p = name; *p != '\0' && o + 1 < JM_NAME_MAX; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        out[o++] = up ? (char)toupper((unsigned char)*p) : *p;
        up = false;
    }
    out[o] = '\0';
}

static bool
jm_skipped(const char *name, const char *const *skip)
{
    for (; skip != NULL && *skip != NULL; skip++)
        if (strcmp(*skip, name) == 0)
            return true;
    return false;
}

/* ExecCause -> "EXEC_CAUSE_": the prefix protoc style puts on values. */
static size_t
jm_enum_prefix(const ProtobufCEnumDescriptor *ed, char out[JM_NAME_MAX])
{
    size_t o = 0;

    for (const char *p = ed->short_name; *p != '\0' && o + 2 < JM_NAME_MAX;
         p++) {
        if (isupper((unsigned char)*p) && p != ed->short_name)
            out[o++] = '_';
        out[o++] = (char)toupper((unsigned char)*p);
    }
    out[o++] = '_';
    out[o] = '\0';
    return o;
}

/* A map<K,V> field is a repeated message of a generated "...Entry" type
 * with exactly the fields key and value. */
static bool
jm_is_map(const ProtobufCFieldDescriptor *f)
{
    const ProtobufCMessageDescriptor *md = f->descriptor;
    size_t                            n;

    if (f->label != PROTOBUF_C_LABEL_REPEATED ||
        f->type != PROTOBUF_C_TYPE_MESSAGE || md == NULL)
        return false;
    n = strlen(md->short_name);
    return n > 5 && strcmp(md->short_name + n - 5, "Entry") == 0 &&
           md->n_fields == 2 && strcmp(md->fields[0].name, "key") == 0 &&
           strcmp(md->fields[1].name, "value") == 0;
}

/* ---- message -> JSON ---- */

static cJSON *jm_object(const ProtobufCMessage *m, const char *const *skip,
                        bool omit_defaults);

/* One value of field f at p (an element of a repeated field, or the
 * field itself). NULL when memory runs out. */
static cJSON *
jm_value(const ProtobufCFieldDescriptor *f, const void *p, bool omit_defaults)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return cJSON_CreateNumber(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return cJSON_CreateNumber(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        return cJSON_CreateNumber((double)*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return cJSON_CreateNumber((double)*(const uint64_t *)p);
    case PROTOBUF_C_TYPE_FLOAT:
        return cJSON_CreateNumber(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return cJSON_CreateNumber(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return cJSON_CreateBool(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const ProtobufCEnumValue      *ev;
        char                           prefix[JM_NAME_MAX];
        size_t                         plen = jm_enum_prefix(ed, prefix);
        int                            v = *(const int *)p;

        ev = protobuf_c_enum_descriptor_get_value(ed, v);
        if (ev == NULL) /* a value this build does not know */
            return cJSON_CreateNumber(v);
        return cJSON_CreateString(
            strncmp(ev->name, prefix, plen) == 0 ? ev->name + plen : ev->name);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        /* Strings from the wire are UTF-8 checked by nobody: repair. */
        char  *clean = nox__utf8_sanitize((const uint8_t *)(s ? s : ""),
                                         s ? strlen(s) : 0);
        cJSON *j = clean != NULL ? cJSON_CreateString(clean) : NULL;
        free(clean);
        return j;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        char                      *clean = nox__utf8_sanitize(
                                 b->data != NULL ? b->data : (const uint8_t *)"", b->len);
        cJSON *j = clean != NULL ? cJSON_CreateString(clean) : NULL;
        free(clean);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        return sub != NULL ? jm_object(sub, NULL, omit_defaults)
                           : cJSON_CreateNull();
    }
    }
    return NULL;
}

/* Whether the singular field at p holds its default (proto3: zero). */
static bool
jm_is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)p == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)p == 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)p == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return !*(const protobuf_c_boolean *)p;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)p == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p == NULL;
    }
    return true;
}

/* Size of one element of a repeated field of f's type in its array. */
static size_t
jm_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* A map field as an object of its entries' values by key. */
static cJSON *
jm_map(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *entries,
       size_t n, bool omit_defaults)
{
    const ProtobufCMessageDescriptor *md = f->descriptor;
    cJSON                            *o = cJSON_CreateObject();

    for (size_t i = 0; o != NULL && i < n; i++) {
        const char *base = (const char *)entries[i];
        const char *key = *(char *const *)(base + md->fields[0].offset);
        cJSON      *v = jm_value(&md->fields[1], base + md->fields[1].offset,
                                 omit_defaults);
        if (v == NULL || !cJSON_AddItemToObject(o, key ? key : "", v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static cJSON *
jm_field(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
         bool omit_defaults, bool *omit)
{
    const char *p = (const char *)m + f->offset;

    *omit = false;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
        const char *arr = *(char *const *)p;
        cJSON      *a;

        if (n == 0 && omit_defaults) {
            *omit = true;
            return NULL;
        }
        if (jm_is_map(f))
            return jm_map(f, (ProtobufCMessage *const *)arr, n, omit_defaults);
        a = cJSON_CreateArray();
        for (size_t i = 0; a != NULL && i < n; i++) {
            cJSON *v = jm_value(f, arr + i * jm_elem_size(f), omit_defaults);
            if (v == NULL || !cJSON_AddItemToArray(a, v)) {
                cJSON_Delete(v);
                cJSON_Delete(a);
                return NULL;
            }
        }
        return a;
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
        f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE &&
        !*(const protobuf_c_boolean *)((const char *)m +
                                       f->quantifier_offset)) {
        *omit = true; /* a field with presence, not present */
        return NULL;
    }
    if (omit_defaults && jm_is_default(f, p)) {
        *omit = true;
        return NULL;
    }
    return jm_value(f, p, omit_defaults);
}

static cJSON *
jm_object(const ProtobufCMessage *m, const char *const *skip,
          bool omit_defaults)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    cJSON                            *o = cJSON_CreateObject();

    for (unsigned i = 0; o != NULL && i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char                            name[JM_NAME_MAX];
        bool                            omit;
        cJSON                          *v;

        if (jm_skipped(f->name, skip))
            continue;
        v = jm_field(m, f, omit_defaults, &omit);
        if (omit)
            continue;
        jm_camel(f->name, name);
        if (v == NULL || !cJSON_AddItemToObject(o, name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

cJSON *
nox__json_from_message(const ProtobufCMessage *m, const char *const *skip,
                       bool omit_defaults)
{
    return jm_object(m, skip, omit_defaults);
}

/* ---- JSON -> message ---- */

typedef struct {
    nox_status_t *st;
    const char   *field; /* the JSON name, for messages */
} jm_in_t;

static nox_err_t
jm_wrong(const jm_in_t *in, const char *expected)
{
    return nox__status_set(in->st, NOX_EINVAL, "field %s: expected %s",
                           in->field, expected);
}

static nox_err_t
jm_nomem(const jm_in_t *in)
{
    return nox__status_set(in->st, NOX_ERESOURCE, "out of memory");
}

/* An integral JSON number, or a string of one (proto3's JSON mapping
 * writes 64-bit integers as strings), within [lo, hi]. */
static bool
jm_integer(const cJSON *j, double lo, double hi, double *out)
{
    double v;

    if (cJSON_IsNumber(j)) {
        v = j->valuedouble;
    } else if (cJSON_IsString(j) && j->valuestring[0] != '\0') {
        char *end;
        v = strtod(j->valuestring, &end);
        if (*end != '\0' || isspace((unsigned char)j->valuestring[0]))
            return false;
    } else {
        return false;
    }
    if (!isfinite(v) || v != floor(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static nox_err_t jm_fill(const cJSON *o, ProtobufCMessage *m,
                         const char *const *skip, nox_status_t *st);

static nox_err_t
jm_new_message(const ProtobufCMessageDescriptor *d, ProtobufCMessage **out,
               const jm_in_t *in)
{
    ProtobufCMessage *m = calloc(1, d->sizeof_message);

    if (m == NULL)
        return jm_nomem(in);
    d->message_init(m);
    *out = m;
    return NOX_OK;
}

/* A malloc'd copy of a JSON string (embedded NULs cannot occur: see
 * nox__rest_request, which refuses \u0000). */
static nox_err_t
jm_string(const cJSON *j, char **out, const jm_in_t *in)
{
    if (!cJSON_IsString(j))
        return jm_wrong(in, "a string");
    *out = strdup(j->valuestring);
    return *out != NULL ? NOX_OK : jm_nomem(in);
}

static nox_err_t
jm_enum(const ProtobufCFieldDescriptor *f, const cJSON *j, int *out,
        const jm_in_t *in)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    char                           prefix[JM_NAME_MAX];
    size_t                         plen = jm_enum_prefix(ed, prefix);
    double                         v;

    if (jm_integer(j, INT32_MIN, INT32_MAX, &v)) {
        *out = (int)v;
        return NOX_OK;
    }
    if (cJSON_IsString(j))
        for (unsigned i = 0; i < ed->n_values; i++) {
            const char *name = ed->values[i].name;
            if (strcmp(name, j->valuestring) == 0 ||
                (strncmp(name, prefix, plen) == 0 &&
                 strcmp(name + plen, j->valuestring) == 0)) {
                *out = ed->values[i].value;
                return NOX_OK;
            }
        }
    return jm_wrong(in, "one of the enum's names");
}

/* Read one value of field f from j into p (an element or the field). */
static nox_err_t
jm_read(const ProtobufCFieldDescriptor *f, const cJSON *j, void *p,
        const jm_in_t *in)
{
    double v;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!jm_integer(j, INT32_MIN, INT32_MAX, &v))
            return jm_wrong(in, "a 32-bit integer");
        *(int32_t *)p = (int32_t)v;
        return NOX_OK;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!jm_integer(j, 0, UINT32_MAX, &v))
            return jm_wrong(in, "a non-negative 32-bit integer");
        *(uint32_t *)p = (uint32_t)v;
        return NOX_OK;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        /* Doubles are exact to 2^53: beyond, refuse rather than round. */
        if (!jm_integer(j, -9007199254740992.0, 9007199254740992.0, &v))
            return jm_wrong(in, "an integer");
        *(int64_t *)p = (int64_t)v;
        return NOX_OK;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (!jm_integer(j, 0, 9007199254740992.0, &v))
            return jm_wrong(in, "a non-negative integer");
        *(uint64_t *)p = (uint64_t)v;
        return NOX_OK;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!cJSON_IsNumber(j))
            return jm_wrong(in, "a number");
        if (f->type == PROTOBUF_C_TYPE_FLOAT)
            *(float *)p = (float)j->valuedouble;
        else
            *(double *)p = j->valuedouble;
        return NOX_OK;
    case PROTOBUF_C_TYPE_BOOL:
        if (!cJSON_IsBool(j))
            return jm_wrong(in, "true or false");
        *(protobuf_c_boolean *)p = cJSON_IsTrue(j);
        return NOX_OK;
    case PROTOBUF_C_TYPE_ENUM:
        return jm_enum(f, j, (int *)p, in);
    case PROTOBUF_C_TYPE_STRING:
        return jm_string(j, (char **)p, in);
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = p;
        char                *s;
        nox_err_t            err = jm_string(j, &s, in);
        if (err != NOX_OK)
            return err;
        b->data = (uint8_t *)s;
        b->len = strlen(s);
        return NOX_OK;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage **sub = p;
        nox_err_t          err;
        if (!cJSON_IsObject(j))
            return jm_wrong(in, "an object");
        err = jm_new_message(f->descriptor, sub, in);
        return err == NOX_OK ? jm_fill(j, *sub, NULL, in->st) : err;
    }
    }
    return jm_wrong(in, "a supported type");
}

/* A map field from an object: one entry per member. */
static nox_err_t
jm_read_map(const ProtobufCFieldDescriptor *f, const cJSON *j, void *arr,
            const jm_in_t *in)
{
    const ProtobufCMessageDescriptor *md = f->descriptor;
    ProtobufCMessage                **entries = arr;
    size_t                            i = 0;
    const cJSON                      *kv;
    nox_err_t                         err;

    cJSON_ArrayForEach(kv, j)
    {
        char *base;

        err = jm_new_message(md, &entries[i], in);
        if (err != NOX_OK)
            return err;
        base = (char *)entries[i++];
        *(char **)(base + md->fields[0].offset) = strdup(kv->string);
        if (*(char **)(base + md->fields[0].offset) == NULL)
            return jm_nomem(in);
        err = jm_read(&md->fields[1], kv, base + md->fields[1].offset, in);
        if (err != NOX_OK)
            return err;
    }
    return NOX_OK;
}

static nox_err_t
jm_read_repeated(const ProtobufCFieldDescriptor *f, const cJSON *j,
                 ProtobufCMessage *m, const jm_in_t *in)
{
    bool    map = jm_is_map(f);
    size_t  n = (size_t)cJSON_GetArraySize(j);
    size_t *count = (size_t *)((char *)m + f->quantifier_offset);
    char  **arr = (char **)((char *)m + f->offset);
    size_t  i = 0;

    if (map ? !cJSON_IsObject(j) : !cJSON_IsArray(j))
        return jm_wrong(in, map ? "an object of strings" : "an array");
    if (n == 0)
        return NOX_OK;
    *arr = calloc(n, jm_elem_size(f));
    if (*arr == NULL)
        return jm_nomem(in);
    /* Counted before filling, so that free_unpacked releases what a
     * failure part-way leaves (unfilled elements are zero). */
    *count = n;
    if (map)
        return jm_read_map(f, j, *arr, in);
    for (const cJSON *e = j->child; e != NULL; e = e->next, i++) {
        nox_err_t err = jm_read(f, e, *arr + i * jm_elem_size(f), in);
        if (err != NOX_OK) {
            /* "expected a string" says more with "an array of". */
            if (f->type == PROTOBUF_C_TYPE_STRING)
                (void)jm_wrong(in, "an array of strings");
            return err;
        }
    }
    return NOX_OK;
}

static nox_err_t
jm_fill(const cJSON *o, ProtobufCMessage *m, const char *const *skip,
        nox_status_t *st)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;

    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char                            name[JM_NAME_MAX];
        const cJSON                    *j;
        jm_in_t                         in = {st, name};
        nox_err_t                       err;

        if (jm_skipped(f->name, skip))
            continue;
        jm_camel(f->name, name);
        j = cJSON_GetObjectItemCaseSensitive(o, name);
        if (j == NULL)
            j = cJSON_GetObjectItemCaseSensitive(o, f->name);
        if (j == NULL || cJSON_IsNull(j))
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            err = jm_read_repeated(f, j, m, &in);
        } else {
            err = jm_read(f, j, (char *)m + f->offset, &in);
            if (err == NOX_OK && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                f->quantifier_offset != 0 &&
                f->type != PROTOBUF_C_TYPE_STRING &&
                f->type != PROTOBUF_C_TYPE_MESSAGE)
                *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
        }
        if (err != NOX_OK)
            return err;
    }
    return NOX_OK;
}

nox_err_t
nox__json_to_message(const cJSON *o, const ProtobufCMessageDescriptor *d,
                     const char *const *skip, ProtobufCMessage **out,
                     nox_status_t *st)
{
    ProtobufCMessage *m = NULL;
    jm_in_t           in = {st, "body"};
    nox_err_t         err;

    if (o != NULL && !cJSON_IsObject(o))
        return nox__status_set(st, NOX_EINVAL,
                               "the body must be a JSON object");
    err = jm_new_message(d, &m, &in);
    if (err != NOX_OK)
        return err;
    err = o != NULL ? jm_fill(o, m, skip, st) : NOX_OK;
    if (err != NOX_OK) {
        protobuf_c_message_free_unpacked(m, NULL);
        return err;
    }
    *out = m;
    return NOX_OK;
}
