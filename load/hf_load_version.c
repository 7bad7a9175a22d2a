/* placeholder module removed once load/ has real code */
int hf__load_placeholder(void);
int hf__load_placeholder(void) { return 0; }
