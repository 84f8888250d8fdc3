/*
 * greeter prints the greeting stored in data/greeting.txt beside the
 * program, then one line per argument. The file is found through
 * /proc/self/exe, so the program works from any current directory, also
 * when it runs from its parker artifact.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char exe[PATH_MAX], path[PATH_MAX + 32], buf[4096];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len < 0) {
		perror("greeter: /proc/self/exe");
		return 1;
	}
	exe[len] = '\0';
	snprintf(path, sizeof path, "%s/data/greeting.txt", dirname(exe));

	FILE *f = fopen(path, "r");
	if (f == NULL) {
		perror(path);
		return 1;
	}
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);

	for (int i = 1; i < argc; i++)
		printf("argument %d: %s\n", i, argv[i]);
	return 0;
}
