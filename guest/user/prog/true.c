/* true: exit 0 (a short-lived program for exec churn). */
int main(void) { return 0; }
