/* herd-pause: the infra process of a herd pod.
 *
 * It holds the pod's network, IPC and UTS namespaces for the pod's
 * containers to join, and does nothing else: it sleeps until SIGTERM or
 * SIGINT and exits 0. As the init of its own PID namespace it would also reap
 * orphans, so it does that too. Static, tiny, no libc output. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { (void)sig; _exit(0); }
static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
}

int main(void) {
    struct sigaction stop = {0}, child = {0};
    stop.sa_handler = on_stop;
    child.sa_handler = on_child;
    child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGTERM, &stop, 0);
    sigaction(SIGINT, &stop, 0);
    sigaction(SIGCHLD, &child, 0);
    for (;;) pause();
}
