/*
 * A plugin whose loading overflows a heap buffer, in iommucheck's own process (the loader
 * opens a plugin to read its descriptor before any child runs it). For the test that a
 * sanitizer's report on iommucheck exits 3, never 1, the code for "violation found". Built in
 * AddressSanitizer builds only: elsewhere the overflow would go unseen.
 */
#include <stdlib.h>

__attribute__((constructor)) static void overflow_on_load(void) {
  volatile char *p = malloc(8);
  p[8] = 1;
  free((void *)p);
}
