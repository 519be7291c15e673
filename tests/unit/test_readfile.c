/*
 * test_readfile.c - the one capped file reader: a file read whole and
 * NUL-terminated, an empty one, one at the cap and one past it, a missing
 * path, a directory and a FIFO (refused at once by default, never waited
 * on; read to EOF with READFILE_ANY), a pipe through readfile_fd, and a
 * file larger than its size said when opened (growth by doubling).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mutators/json/readfile.h"

static char dir[] = "/tmp/test_readfile.XXXXXX";

static const char *write_file(const char *name, const char *data, size_t n)
{
    static char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void test_regular_file(void **state)
{
    char err[READFILE_MAX_ERROR], *buf = NULL;
    size_t len = 0;
    const char *p = write_file("a", "hello\nworld", 11);

    (void)state;
    assert_int_equal(readfile_path(p, 64, 0, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(buf, "hello\nworld", 11);
    assert_int_equal(buf[11], '\0');
    free(buf);
    /* exactly at the cap is read; one byte past it is refused */
    assert_int_equal(readfile_path(p, 11, READFILE_SECRET, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 11);
    free(buf);
    buf = NULL;
    assert_int_equal(readfile_path(p, 10, READFILE_SECRET, &buf, &len, err, sizeof(err)), -1);
    assert_int_equal(errno, EFBIG);
    assert_null(buf);
    assert_non_null(strstr(err, "/a: larger than 10 bytes"));
}

static void test_empty_file(void **state)
{
    char err[READFILE_MAX_ERROR], *buf = NULL;
    size_t len = 99;
    const char *p = write_file("empty", "", 0);

    (void)state;
    /* read: whether empty is an error is the caller's to say */
    assert_int_equal(readfile_path(p, 64, 0, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 0);
    assert_non_null(buf);
    assert_int_equal(buf[0], '\0');
    free(buf);
}

static void test_missing_and_directory(void **state)
{
    char err[READFILE_MAX_ERROR], path[512], *buf = NULL;
    size_t len;

    (void)state;
    snprintf(path, sizeof(path), "%s/absent", dir);
    assert_int_equal(readfile_path(path, 64, 0, &buf, &len, err, sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "/absent: cannot open: No such file or directory"));
    assert_int_equal(readfile_path(dir, 64, 0, &buf, &len, err, sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, ": not a regular file"));
    /* a directory is not input even where pipes are */
    assert_int_equal(readfile_path(dir, 64, READFILE_ANY, &buf, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ": not a regular file"));
    assert_null(buf);
}

static void test_fifo(void **state)
{
    char err[READFILE_MAX_ERROR], path[512], *buf = NULL;
    size_t len;
    pid_t pid;
    int fd;

    (void)state;
    snprintf(path, sizeof(path), "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    /* no writer: a blocking open would wait forever; refused at once */
    assert_int_equal(readfile_path(path, 64, 0, &buf, &len, err, sizeof(err)), -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "/fifo: not a regular file"));
    assert_null(buf);
    /* with READFILE_ANY it is read to EOF, under the cap */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fd = open(path, O_WRONLY);
        _exit(fd >= 0 && write(fd, "piped", 5) == 5 ? 0 : 1);
    }
    assert_int_equal(readfile_path(path, 64, READFILE_ANY, &buf, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "piped");
    free(buf);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    unlink(path);
}

static void test_pipe_growth_and_cap(void **state)
{
    char err[READFILE_MAX_ERROR], *buf = NULL, *big;
    size_t len, n = 200 * 1024;     /* past the first 64 KiB buffer of an unknown size */
    int fds[2];
    pid_t pid;

    (void)state;
    big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(pipe(fds), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            size_t done = 0;

            close(fds[0]);
            while (done < n) {
                ssize_t w = write(fds[1], big + done, n - done);

                if (w <= 0)
                    _exit(round == 1 ? 0 : 1);  /* the reader stopped at its cap */
                done += (size_t)w;
            }
            _exit(0);
        }
        close(fds[1]);
        if (round == 0) {
            assert_int_equal(readfile_fd(fds[0], "-", n, READFILE_ANY, &buf, &len, err, sizeof(err)), 0);
            assert_int_equal(len, n);
            assert_memory_equal(buf, big, n);
            free(buf);
        } else {
            assert_int_equal(readfile_fd(fds[0], "-", n - 1, READFILE_SECRET, &buf, &len, err, sizeof(err)), -1);
            assert_int_equal(errno, EFBIG);
            assert_non_null(strstr(err, "-: larger than"));
        }
        close(fds[0]);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
    }
    free(big);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[600];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_file),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_missing_and_directory),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_pipe_growth_and_cap),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
