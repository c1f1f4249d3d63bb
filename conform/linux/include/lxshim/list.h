/* A doubly linked list with the kernel's list_head interface (our own implementation). */
#ifndef LXSHIM_LIST_H
#define LXSHIM_LIST_H

#include "lxshim/base.h"

struct list_head {
  struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name) \
  { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)
static inline void INIT_LIST_HEAD(struct list_head *h) { h->next = h->prev = h; }
static inline bool list_empty(const struct list_head *h) { return h->next == h; }
static inline void list_add_tail(struct list_head *n, struct list_head *h) {
  n->prev = h->prev;
  n->next = h;
  h->prev->next = n;
  h->prev = n;
}
static inline void list_del(struct list_head *e) {
  e->prev->next = e->next;
  e->next->prev = e->prev;
  e->next = e->prev = e;
}
static inline void list_splice(const struct list_head *list, struct list_head *head) {
  if (list_empty(list)) return;
  struct list_head *first = list->next, *last = list->prev, *at = head->next;
  first->prev = head;
  head->next = first;
  last->next = at;
  at->prev = last;
}
#define list_entry(ptr, type, member) container_of(ptr, type, member)

#endif
