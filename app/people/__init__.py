"""What the API and the reader both need about people, below both faces: person cards,
the contact log, dates to remember, reaching out, vCard import."""
