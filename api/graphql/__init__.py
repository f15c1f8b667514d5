"""The GraphQL API: schema, types, resolvers, loaders, limits and the strawberry view."""
