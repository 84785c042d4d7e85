/*
 * listen: a tiny static TCP listener for the "distroless" test image.
 *
 *   listen PORT [PORT...]   listen on every given TCP port (all addresses,
 *                           IPv6 dual-stack when available, else IPv4),
 *                           accept connections and close them at once,
 *                           forever. Exits 0 on SIGTERM/SIGINT (it runs as
 *                           PID 1, which ignores signals without a handler).
 *   listen --check PORT     connect to 127.0.0.1:PORT; exit 0 if the
 *                           connection is accepted, 1 otherwise (used as the
 *                           container healthcheck: the image has no shell).
 *
 * Build: gcc -static -O2 -Wall -Wextra -o listen listen.c
 * It only ever connects to 127.0.0.1 (the container's own loopback).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PORTS 64

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void on_alarm(int sig) {
    (void)sig;
    _exit(1);
}

static int parse_port(const char *s) {
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535) {
        return -1;
    }
    return (int)v;
}

static int usage(void) {
    fprintf(stderr,
            "usage: listen PORT [PORT...]\n"
            "       listen --check PORT\n");
    return 2;
}

static int check(const char *port_arg) {
    struct sockaddr_in sa;
    int fd;
    int port = parse_port(port_arg);
    if (port < 0) {
        fprintf(stderr, "listen: bad port: %s\n", port_arg);
        return 2;
    }
    /* Loopback connects answer at once; the alarm is only a safety net. */
    signal(SIGALRM, on_alarm);
    alarm(2);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("listen: socket");
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "listen: 127.0.0.1:%d: %s\n", port, strerror(errno));
        close(fd);
        return 1;
    }
    close(fd);
    return 0;
}

static int open_listener(int port) {
    int one = 1;
    int zero = 0;
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd >= 0) {
        struct sockaddr_in6 sa6;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        memset(&sa6, 0, sizeof sa6);
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((unsigned short)port);
        sa6.sin6_addr = in6addr_any;
        if (bind(fd, (struct sockaddr *)&sa6, sizeof sa6) == 0 && listen(fd, 128) == 0) {
            return fd;
        }
        close(fd);
    }
    /* No IPv6 in this namespace (or dual-stack refused): plain IPv4. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("listen: socket");
        return -1;
    }
    {
        struct sockaddr_in sa;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((unsigned short)port);
        sa.sin_addr.s_addr = htonl(INADDR_ANY);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            fprintf(stderr, "listen: bind port %d: %s\n", port, strerror(errno));
            close(fd);
            return -1;
        }
        if (listen(fd, 128) != 0) {
            fprintf(stderr, "listen: listen port %d: %s\n", port, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

int main(int argc, char **argv) {
    struct pollfd fds[MAX_PORTS];
    struct sigaction sa;
    int n = 0;
    int i;

    if (argc < 2) {
        return usage();
    }
    if (strcmp(argv[1], "--check") == 0) {
        if (argc != 3) {
            return usage();
        }
        return check(argv[2]);
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage();
        return 0;
    }
    if (argc - 1 > MAX_PORTS) {
        fprintf(stderr, "listen: at most %d ports\n", MAX_PORTS);
        return 2;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (i = 1; i < argc; i++) {
        int port = parse_port(argv[i]);
        int fd;
        if (port < 0) {
            fprintf(stderr, "listen: bad port: %s\n", argv[i]);
            return 2;
        }
        fd = open_listener(port);
        if (fd < 0) {
            return 1;
        }
        fds[n].fd = fd;
        fds[n].events = POLLIN;
        n++;
        fprintf(stderr, "listen: listening on port %d\n", port);
    }

    while (!stop_requested) {
        int r = poll(fds, (nfds_t)n, -1);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("listen: poll");
            return 1;
        }
        for (i = 0; i < n; i++) {
            if (fds[i].revents & POLLIN) {
                int c = accept(fds[i].fd, NULL, NULL);
                if (c >= 0) {
                    close(c);
                }
            }
        }
    }
    for (i = 0; i < n; i++) {
        close(fds[i].fd);
    }
    return 0;
}
