#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
/* Recording stub for the adversarial test (tests/shell/test_adversarial.py).
   As any program name: appends to $QMX_LOG, in one O_APPEND write, NUL-separated fields:
   argc, each argv word (exact bytes), the number of open fds, then per open fd its
   number, the readlink of /proc/self/fd/N and the octal flags of /proc/self/fdinfo/N;
   exits 0.  As "qmx-init SHELL ARGS...": pid 1 of a fresh pid namespace; runs the shell,
   then waits until every descendant (also orphans) has exited and exits with the shell's
   status (128+signal when killed; 200 when a process stopped, after killing them all). */
static size_t put(char *buf, size_t n, size_t cap, const char *s, size_t len) {
    if (n + len + 1 > cap) return n;
    memcpy(buf + n, s, len); buf[n + len] = '\0'; return n + len + 1;
}
static int init(char **argv) {
    pid_t shell = fork();
    if (shell < 0) return 97;
    if (shell == 0) { setsid(); execvp(argv[1], argv + 1); _exit(127); }  /* own group */
    int status = 0, result = 96;
    for (;;) {
        pid_t pid = waitpid(-1, &status, WUNTRACED);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) break;
        if (WIFSTOPPED(status)) {  /* a stopped process never ends: end them all */
            result = 200;
            kill(-1, SIGKILL);
            continue;
        }
        if (pid == shell && result != 200)
            result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return result;
}
int main(int argc, char **argv) {
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (strcmp(base, "qmx-init") == 0 && argc > 1) return init(argv);
    const char *log = getenv("QMX_LOG");
    if (!log) return 99;
    size_t cap = 1 << 17, n = 0;
    for (int i = 0; i < argc; i++) cap += strlen(argv[i]) + 1;
    char *buf = malloc(cap);
    char tmp[4096];
    int len = snprintf(tmp, sizeof tmp, "%d", argc);
    n = put(buf, n, cap, tmp, (size_t)len);
    for (int i = 0; i < argc; i++) n = put(buf, n, cap, argv[i], strlen(argv[i]));
    int fds[256], nfds = 0;
    DIR *dir = opendir("/proc/self/fd");
    int skip = dir ? dirfd(dir) : -1;
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL && nfds < 256) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd != skip) fds[nfds++] = fd;
    }
    if (dir) closedir(dir);
    len = snprintf(tmp, sizeof tmp, "%d", nfds);
    n = put(buf, n, cap, tmp, (size_t)len);
    for (int k = 0; k < nfds; k++) {
        char path[64];
        len = snprintf(tmp, sizeof tmp, "%d", fds[k]);
        n = put(buf, n, cap, tmp, (size_t)len);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fds[k]);
        ssize_t r = readlink(path, tmp, sizeof tmp - 1);
        if (r < 0) r = 0;
        n = put(buf, n, cap, tmp, (size_t)r);
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fds[k]);
        char info[512] = "";
        int f = open(path, O_RDONLY);
        ssize_t got = f >= 0 ? read(f, info, sizeof info - 1) : 0;
        if (f >= 0) close(f);
        if (got < 0) got = 0;
        info[got] = '\0';
        char *flags = strstr(info, "flags:");
        char out[32] = "";
        if (flags) sscanf(flags + 6, " %31s", out);
        n = put(buf, n, cap, out, strlen(out));
    }
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, buf, n) != (ssize_t)n) return 98;
    close(fd);
    return 0;
}
