/*
 * render.c - `paddlex-webhook render`: the mutating webhook, offline.
 *
 * Every CR of every input is defaulted and expanded by kinds_mutate() and
 * judged by kinds_validate(), exactly as /mutate then /validate would. The
 * output is all or nothing: when any input is unreadable or any object is
 * invalid, nothing is printed on stdout (a partial render piped into
 * `kubectl apply` would apply half a pipeline) and every problem is on
 * stderr, one line each: "<file>: <Kind>/<name>: <path>: <error>".
 */
#include "webhook/render.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/fielderr.h"
#include "mutators/json/readfile.h"
#include "mutators/kinds.h"
#include "mutators/policy.h"
#include "webhook/policyfile.h"
#include "webhook/yaml.h"

#define EXIT_INVALID 1   /* some object is invalid */
#define EXIT_INPUT 2     /* usage, unreadable file, malformed YAML/JSON */
#define MAX_LABEL 160    /* bytes of "<Kind>/<name>" in messages */

struct render {
    const struct policy *policy;  /* NULL: the built-in settings */
    json_t *out;                  /* the documents to print, in order */
    int status;                   /* the exit status so far */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: paddlex-webhook render [--policy FILE] [-o yaml|json] FILE|-...\n"
               "  prints each CR defaulted and expanded, followed by its children\n");
}

/* Reads path ("-" for stdin; a pipe or FIFO too, as a shell's <(...)
 * gives) into a new buffer of at most YAML_MAX_INPUT bytes. Returns NULL
 * with a message on stderr. */
static char *read_input(const char *path, size_t *len)
{
    char err[READFILE_MAX_ERROR], *buf = NULL;
    int rc = strcmp(path, "-") ? readfile_path(path, YAML_MAX_INPUT, READFILE_ANY, &buf, len, err, sizeof(err))
                               : readfile_fd(0, "-", YAML_MAX_INPUT, READFILE_ANY, &buf, len, err, sizeof(err));

    if (rc < 0) {
        fprintf(stderr, "paddlex-webhook: render: %s\n", err);
        return NULL;
    }
    return buf;
}

/* "<Kind>/<name>" of obj, for messages. */
static void label_of(const json_t *obj, char buf[MAX_LABEL])
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const char *name = kinds_name(obj);

    snprintf(buf, MAX_LABEL, "%.64s/%.64s", kind ? kind : "<no kind>", name ? name : "<no name>");
}

static void print_errors(const char *file, const char *label, const struct fielderr_list *errs)
{
    for (size_t i = 0; i < errs->len; i++) {
        char *line = fielderr_string(&errs->v[i]);

        fprintf(stderr, "%s: %s: %s\n", file, label, line ? line : "out of memory");
        free(line);
    }
}

/* A document that is not one of our kinds. */
static void refuse_kind(struct render *r, const char *file, const json_t *obj)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    const json_t *av = json_object_get(obj, "apiVersion"), *kind = json_object_get(obj, "kind");
    char label[MAX_LABEL];

    label_of(obj, label);
    if (!json_is_string(av) || strcmp(json_string_value(av), KINDS_API_VERSION) != 0)
        fielderr_add(&errs, FIELDERR_NOT_SUPPORTED, "apiVersion", av, "supported values: \"%s\"",
                     KINDS_API_VERSION);
    else
        fielderr_add(&errs, FIELDERR_NOT_SUPPORTED, "kind", kind,
                     "supported values: \"Dataset\", \"Training\", \"ModelHub\", \"Serving\"");
    print_errors(file, label, &errs);
    fielderr_release(&errs);
    r->status = r->status ? r->status : EXIT_INVALID;
}

/* Mutates and judges one CR (borrowed, changed in place); queues it and its
 * children for output when it is valid. */
static void render_object(struct render *r, const char *file, json_t *obj)
{
    const struct kind *k = kinds_of_object(obj);
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    struct context ctx = { 0 };
    struct kinds_mutation m;
    json_t *warnings, *w, *child;
    char label[MAX_LABEL];
    size_t i;

    if (!k) {
        refuse_kind(r, file, obj);
        return;
    }
    warnings = json_array();
    /* offline, the manifest's own namespace plays request.namespace */
    ctx.namespace = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
    policy_apply(r->policy, &ctx);
    kinds_mutate(k, obj, &ctx, KINDS_INTO_OBJECT, &m);
    kinds_mutation_release(&m);
    kinds_validate(k, obj, &ctx, &errs, warnings);
    label_of(obj, label);
    json_array_foreach(warnings, i, w)
        fprintf(stderr, "%s: %s: warning: %s\n", file, label, json_string_value(w));
    if (errs.len) {
        print_errors(file, label, &errs);
        r->status = r->status ? r->status : EXIT_INVALID;
    } else {
        json_array_append(r->out, obj);
        json_array_foreach(json_object_get(json_object_get(obj, "spec"), "generated"), i, child)
            json_array_append(r->out, child);
    }
    fielderr_release(&errs);
    json_decref(warnings);
}

/* One document: a CR, or a v1 List of them (as `kubectl get -o yaml` writes). */
static void render_document(struct render *r, const char *file, size_t index, json_t *doc)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    json_t *items = json_object_get(doc, "items"), *item;
    size_t i;

    if (!json_is_object(doc)) {
        fprintf(stderr, "%s: document %zu: must be a mapping (an object), not a %s\n", file,
                index + 1, json_is_array(doc) ? "sequence" : "scalar");
        r->status = r->status ? r->status : EXIT_INVALID;
        return;
    }
    if (kind && !strcmp(kind, "List") && json_is_array(items)) {
        json_array_foreach(items, i, item)
            render_document(r, file, index, item);
        return;
    }
    render_object(r, file, doc);
}

static void render_file(struct render *r, const char *path)
{
    const char *file = strcmp(path, "-") ? path : "<stdin>";
    char err[YAML_MAX_ERROR];
    json_t *docs, *doc;
    size_t len, i;
    char *buf = read_input(path, &len);

    if (!buf) {
        r->status = EXIT_INPUT;
        return;
    }
    docs = yaml_load_all(buf, len, err);
    free(buf);
    if (!docs) {
        fprintf(stderr, "paddlex-webhook: render: %s: %s\n", file, err);
        r->status = EXIT_INPUT;
        return;
    }
    json_array_foreach(docs, i, doc)
        render_document(r, file, i, doc);
    json_decref(docs);
}

static int print_output(const json_t *out, int json)
{
    json_t *list;
    int rc;

    if (!json)
        return yaml_dump_all(out, stdout);
    list = json_pack("{s:s, s:s, s:O}", "apiVersion", "v1", "kind", "List", "items", out);
    rc = json_dumpf(list, stdout, JSON_INDENT(2)) < 0 || fputc('\n', stdout) == EOF ? -1 : 0;
    json_decref(list);
    return rc;
}

int render_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'o' },
        { "policy", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct render r = { 0 };
    struct policy *policy = NULL;
    const char *policy_file = NULL;
    char err[POLICYFILE_MAX_ERROR];
    int c, json = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (strcmp(optarg, "yaml") && strcmp(optarg, "json")) {
                fprintf(stderr, "paddlex-webhook: render: -o must be yaml or json\n");
                return EXIT_INPUT;
            }
            json = !strcmp(optarg, "json");
            break;
        case 'p':
            policy_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_INPUT;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_INPUT;
    }
    if (policy_file && !(policy = policyfile_load(policy_file, err, sizeof(err)))) {
        fprintf(stderr, "paddlex-webhook: %s\n", err);
        return EXIT_INPUT;
    }
    r.policy = policy;
    r.out = json_array();
    for (int i = optind; i < argc; i++)
        render_file(&r, argv[i]);
    if (r.status == 0 && (print_output(r.out, json) < 0 || fflush(stdout) == EOF)) {
        fprintf(stderr, "paddlex-webhook: render: cannot write the output: %s\n", strerror(errno));
        r.status = EXIT_INPUT;
    }
    json_decref(r.out);
    policy_unref(policy);
    return r.status;
}
