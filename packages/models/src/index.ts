export const PACKAGE_NAME = '@ssl/models';
