export const PACKAGE_NAME = '@ssl/losses';
