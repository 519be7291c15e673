/*
 * fuzz_yaml.c - libFuzzer target for the manifest loader, yaml_load_all()
 * (webhook/yaml.h), which reads `render`'s input and policy files, and
 * for what render then does with each document.
 *
 * Invariants, beyond no crash/leak/UB:
 *   - NULL exactly with a non-empty error message shorter than
 *     YAML_MAX_ERROR; otherwise an array of at most YAML_MAX_DOCUMENTS
 *     documents, none null, none nested deeper than YAML_MAX_DEPTH;
 *   - round trip (yaml.h's promise): yaml_dump_all() of the documents
 *     reads back, through yaml_load_all(), to equal documents;
 *   - each document of one of our kinds, defaulted and expanded by
 *     kinds_mutate() as render does, is unchanged by a second
 *     kinds_mutate() (idempotency), and kinds_render() of it agrees with
 *     the spec.generated the mutation wrote.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/fielderr.h"
#include "mutators/kinds.h"
#include "mutators/policy.h"
#include "tests/fuzz/fuzz_util.h"
#include "webhook/yaml.h"

static void check_render(const json_t *doc)
{
    const struct kind *k = kinds_of_object(doc);
    struct context ctx = { 0 };
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    struct kinds_mutation m;
    json_t *once, *twice, *warnings, *children;
    const json_t *generated;

    if (!k || !json_is_object(doc))
        return;
    ctx.namespace = json_string_value(json_object_get(json_object_get(doc, "metadata"), "namespace"));
    policy_apply(NULL, &ctx);
    once = json_deep_copy(doc);
    kinds_mutate(k, once, &ctx, KINDS_INTO_OBJECT, &m);
    kinds_mutation_release(&m);
    twice = json_deep_copy(once);
    kinds_mutate(k, twice, &ctx, KINDS_INTO_OBJECT, &m);
    FZ_CHECK(m.nchanges == 0, "kinds_mutate lists changes a second time");
    kinds_mutation_release(&m);
    FZ_CHECK(json_equal(once, twice), "kinds_mutate is not idempotent");
    generated = json_object_get(json_object_get(once, "spec"), "generated");
    warnings = json_array();
    children = kinds_render(k, once, &ctx, &errs, warnings);
    if (children && generated)
        FZ_CHECK(json_equal(children, (json_t *)generated),
                 "kinds_render of the mutated object differs from its spec.generated");
    FZ_CHECK(!children == (errs.len > 0), "kinds_render: NULL exactly when errors were found");
    json_decref(children);
    json_decref(warnings);
    fielderr_release(&errs);
    json_decref(twice);
    json_decref(once);
}

static void check_round_trip(const json_t *docs)
{
    char *text = NULL, err[YAML_MAX_ERROR];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    json_t *again;

    if (!f)
        abort();
    FZ_CHECK(yaml_dump_all(docs, f) == 0, "yaml_dump_all failed on loaded documents");
    fclose(f);
    again = yaml_load_all(text, len, err);
    FZ_CHECK(again, "dumped YAML does not load again: %s\n--- dumped:\n%.2000s", err, text);
    if (!json_equal(again, (json_t *)docs)) {
        char *a = json_dumps(docs, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = json_dumps(again, JSON_COMPACT | JSON_ENCODE_ANY);

        fz_fail("dumped YAML reads back differently:\n loaded %.1000s\n reread %.1000s\n--- dumped:\n%.2000s",
                a, b, text);
    }
    json_decref(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[YAML_MAX_ERROR];
    json_t *docs, *doc;
    size_t i;

    memset(err, 'x', sizeof(err));
    docs = yaml_load_all((const char *)data, size, err);
    if (!docs) {
        size_t n = strnlen(err, sizeof(err));

        FZ_CHECK(n > 0 && n < sizeof(err), "a refusal without a terminated error message");
        return 0;
    }
    FZ_CHECK(json_is_array(docs) && json_array_size(docs) <= YAML_MAX_DOCUMENTS, "too many documents");
    json_array_foreach(docs, i, doc) {
        FZ_CHECK(!json_is_null(doc), "document %zu is null (empty documents are skipped)", i);
        FZ_CHECK(fz_depth(doc) <= YAML_MAX_DEPTH, "document %zu nests deeper than %d", i, YAML_MAX_DEPTH);
    }
    check_round_trip(docs);
    json_array_foreach(docs, i, doc)
        check_render(doc);
    json_decref(docs);
    return 0;
}
