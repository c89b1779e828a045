/* Loads a bridge library with musl's dynamic loader (RTLD_NOW: every symbol it needs must
 * resolve against musl's libc) and looks up one JNI entry point. Built with musl-gcc by
 * scripts/build-jvm-bridge-natives.sh; exit 0 when the library loads. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <library>\n", argv[0]);
        return 64;
    }
    void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        printf("dlopen failed: %s\n", dlerror());
        return 1;
    }
    if (!dlsym(library, "Java_dev_orbitrust_bridge_NativeBridge_describe")) {
        printf("no bridge entry point: %s\n", dlerror());
        return 1;
    }
    printf("loads under musl; JNI entry points present\n");
    return 0;
}
