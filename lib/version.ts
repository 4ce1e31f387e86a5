/** The package version (checked against package.json by the specs). */
export const VERSION = '0.1.0';
