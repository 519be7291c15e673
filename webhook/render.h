/*
 * render.h - `paddlex-webhook render`: the mutating logic offline.
 *
 * Reads CR manifests (YAML or JSON, several documents per file, several
 * files, "-" for stdin), defaults, validates and expands each, and prints
 * every mutated CR followed by its children, in creation order.
 */
#ifndef RENDER_H
#define RENDER_H

/* argv[0] is "render". Usage:
 *     render [--policy FILE] [-o yaml|json] FILE|-...
 * Returns the exit status: 0 when every object is valid, 1 when any is
 * invalid (every field error on stderr), 2 on usage errors, unreadable
 * files or malformed YAML/JSON. */
int render_main(int argc, char **argv);

#endif
