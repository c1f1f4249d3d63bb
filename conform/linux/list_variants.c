/* Prints the shim's variant names, one a line: the builder links one plugin per name
 * (conform/linux_build.cc), so variants.c is the only list of them. */
#include <stdio.h>

#include "glue.h"

int main(void) {
  const struct lxshim_variant *v;
  for (size_t i = 0; (v = lxshim_variant_at(i)); i++) printf("%s\n", v->name);
  return 0;
}
