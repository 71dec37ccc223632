// nullcall: calls through a null function pointer (a crash on Linux).
// The pointer comes from argc so the compiler cannot see it is null.
#include <stdint.h>
#include <stdio.h>

int main(int argc, char** argv) {
    (void)argv;
    void (*fn)(void) = (void (*)(void))(uintptr_t)(argc - 1);
    fn();
    puts("still alive (unexpected)");
    return 1;
}
