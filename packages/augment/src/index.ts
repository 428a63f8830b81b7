export const PACKAGE_NAME = '@ssl/augment';
