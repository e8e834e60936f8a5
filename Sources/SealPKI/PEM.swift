import GcryptKit
