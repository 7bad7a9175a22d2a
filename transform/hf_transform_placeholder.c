/* placeholder module removed once load/ has real code */
int hf__transform_placeholder(void);
int hf__transform_placeholder(void) { return 0; }
